from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    """``?page=N&page_size=M`` (max 100) → ``{count, next, previous, results}`` (API.md)."""

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
