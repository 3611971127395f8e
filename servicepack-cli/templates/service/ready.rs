// Dependents start once this is called: call it as soon as the service can serve.
ctx.ready();
