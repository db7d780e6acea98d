// Where the pages find the HTTP API. Served as is by the local stack: the API is on the pages' own
// origin. A cloud deployment replaces this file with the API Gateway address (infra/fission_stack.py).
window.FISSION_CONFIG = window.FISSION_CONFIG || {};
