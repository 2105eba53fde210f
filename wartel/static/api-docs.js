// The API reference page: Swagger UI (from the openapi-ui-bundles package) over the generated document.
window.addEventListener('DOMContentLoaded', function () {
  var root = document.getElementById('swagger-ui');
  if (!root || typeof window.SwaggerUIBundle !== 'function') { return; }
  window.ui = window.SwaggerUIBundle({
    url: root.getAttribute('data-openapi'),
    dom_id: '#swagger-ui',
    deepLinking: true,
    // Requests from "Try it out" carry the browser's session cookie; the CSRF header is the user's to add.
    withCredentials: true
  });
});
