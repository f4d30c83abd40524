/*
 * DevOps console: small behaviours, plain JS, no build step.
 *
 *   (a) htmx requests carry the Django CSRF token in an X-CSRFToken header.
 *   (b) <button data-copy="some-id"> copies the text of #some-id, or the attribute value itself
 *       when there is no element with that id, and briefly shows "Copied".
 *   (c) <form data-confirm="Sure?"> / <button data-confirm="Sure?"> ask window.confirm() first.
 *
 * All listeners are registered on `document`, so it does not matter whether this file is loaded in
 * <head> or at the end of <body>, and elements swapped in by htmx work without re-initialisation.
 */
(function () {
  "use strict";

  /* ---- (a) CSRF for htmx ------------------------------------------------------------------ */

  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split(";") : [];
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i].trim();
      if (part.substring(0, name.length + 1) === name + "=") {
        return decodeURIComponent(part.substring(name.length + 1));
      }
    }
    return null;
  }

  function csrfToken() {
    // The cookie comes first because it is always current (Django rotates the token on login).
    // The <meta> tag covers CSRF_COOKIE_HTTPONLY = True and CSRF_USE_SESSIONS = True.
    var token = readCookie("csrftoken");
    if (token) return token;
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : null;
  }

  function isSameOrigin(path) {
    try {
      return new URL(path, window.location.href).origin === window.location.origin;
    } catch (e) {
      return false;
    }
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var detail = event.detail;
    if (!detail || !detail.headers) return;
    if (detail.path && !isSameOrigin(detail.path)) return; // never leak the token cross-origin
    var token = csrfToken();
    if (token) detail.headers["X-CSRFToken"] = token;
  });

  /* ---- (b) Copy to clipboard --------------------------------------------------------------- */

  function textToCopy(button) {
    var ref = button.getAttribute("data-copy");
    var el = ref ? document.getElementById(ref) : null;
    if (!el) return ref || "";
    if ("value" in el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT")) {
      return el.value;
    }
    return el.textContent.trim();
  }

  function legacyCopy(text) {
    // navigator.clipboard only exists in secure contexts. A self-hosted console is often served
    // over plain HTTP, so fall back to execCommand in that case.
    var ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.style.position = "fixed";
    ta.style.top = "-1000px";
    ta.style.opacity = "0";
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    document.body.removeChild(ta);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () {
        return legacyCopy(text);
      });
    }
    return legacyCopy(text);
  }

  function flash(button, label, ok) {
    if (button._consoleCopyTimer) {
      clearTimeout(button._consoleCopyTimer);
    } else {
      button._consoleCopyOriginal = button.innerHTML;
    }
    button.textContent = label;
    button.classList.toggle("copied", ok);
    button._consoleCopyTimer = setTimeout(function () {
      button.innerHTML = button._consoleCopyOriginal;
      button.classList.remove("copied");
      button._consoleCopyTimer = null;
    }, 1500);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button) return;
    event.preventDefault();
    copyText(textToCopy(button)).then(
      function () { flash(button, "Copied", true); },
      function () { flash(button, "Copy failed", false); }
    );
  });

  /* ---- (c) Confirmation --------------------------------------------------------------------- */

  // Capture phase, so the check runs before htmx's own listeners on the element and can cancel them.
  document.addEventListener("click", function (event) {
    var el = event.target.closest ? event.target.closest("[data-confirm]") : null;
    if (!el || el.tagName === "FORM") return;
    if (!window.confirm(el.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || !form.hasAttribute || !form.hasAttribute("data-confirm")) return;
    // Skip if the submitting button already asked (it has its own data-confirm).
    var submitter = event.submitter;
    if (submitter && submitter.hasAttribute("data-confirm")) return;
    if (!window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
})();
