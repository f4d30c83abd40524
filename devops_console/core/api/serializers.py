from django.contrib.auth import get_user_model
from rest_framework import serializers

from devops_console.core.models import Membership, Project, Role


class ProjectSerializer(serializers.ModelSerializer):
    creator = serializers.SlugRelatedField(slug_field="username", read_only=True)
    my_role = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["id", "name", "description", "creator", "created", "my_role"]
        read_only_fields = ["id", "creator", "created", "my_role"]
        # uniqueness is checked by the service, with a clearer message and a race guard
        extra_kwargs = {"name": {"validators": []}}

    def get_my_role(self, project) -> str | None:
        roles = self.context.get("my_roles")
        if roles is not None:
            return roles.get(project.pk)
        request = self.context.get("request")
        membership = project.memberships.filter(user=request.user).first() if request else None
        return membership.role if membership else None


class MembershipSerializer(serializers.ModelSerializer):
    user = serializers.CharField(max_length=150, help_text="Username.")
    role = serializers.CharField(max_length=20, help_text=", ".join(Role.values))

    class Meta:
        model = Membership
        fields = ["user", "role", "added"]
        read_only_fields = ["added"]

    def to_representation(self, instance):
        return {"user": instance.user.username, "role": instance.role, "added": instance.added.isoformat()}


class RoleSerializer(serializers.Serializer):
    role = serializers.CharField(max_length=20)


UserModel = get_user_model()
