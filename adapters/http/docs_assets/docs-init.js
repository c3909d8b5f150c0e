// Starts Swagger UI on our own OpenAPI document; kept out of the page so the CSP needs no inline script.
window.addEventListener("DOMContentLoaded", function () {
  window.SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
});
