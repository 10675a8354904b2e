// Standalone commercetools emulator (@labdigital/commercetools-mock 4.4.0) on loopback only.
//   node server.mjs
// env: CT_MOCK_PORT (default 8989)  CT_MOCK_AUTH=1 (require Bearer tokens from POST /oauth/token)
//      CT_MOCK_PROJECT (default test-project)
//      CT_MOCK_SEED=/path/seed.json  ({"customer":[...],"order":[...]} stored verbatim via unsafeAdd,
//                                     so createdAt/lastModifiedAt/id/version can be back-dated)
//      CT_MOCK_LOG=1 (fastify request log)
// Why not ctMock.runServer(port): it binds 0.0.0.0. We call app.listen on 127.0.0.1.
// Fidelity patches for 4.4.0:
//   1. `sort` is dropped by the HTTP layer for every endpoint except /product-projections;
//      we pass it to the storage through AsyncLocalStorage so `sort=id asc` + `where=id > "..."` works.
//   2. limit > 500 / offset > 10000 are answered with 400 InvalidInput, as the real API does.
// 3. A new cart's totalPrice has the currency's fractionDigits (the mock leaves 0).
// 4. More than 20 repeated query values stay a list (the parser's default arrayLimit is 20).
// 5. GET /{projectKey}/messages and the messages the project reacts to (see messages.mjs).
// Control endpoints under /__emulator (never under a project key), for tests and the demo:
//   POST /__emulator/seed           body as CT_MOCK_SEED: stored verbatim (back-dated records)
//   POST /__emulator/clear          forget every stored resource and pending fault
//   POST /__emulator/revoke-tokens  invalidate every issued access token (the next call gets 401 invalid_token)
//   POST /__emulator/faults         {"path": "/customers", "status": 503, "times": 1, "retryAfter": "1", "drop": false,
//                                    "code": "OverCapacity", "message": "..."}
//                                   the next `times` requests whose path contains `path` get `status`
//                                   (or a dropped connection when drop is true) instead of an answer
//   GET  /__emulator/faults         the faults still pending
//   POST /__emulator/messages/expire {"before": "<ISO date>"} delete older messages (retention)
//   POST /__emulator/messages/delivery {"duplicate": bool, "reverse": bool} at-least-once, unordered
import { AsyncLocalStorage } from "node:async_hooks";
import { readFileSync } from "node:fs";
import { CommercetoolsMock, InMemoryStorage } from "@labdigital/commercetools-mock";
import { installMessages } from "./messages.mjs";

const port = Number.parseInt(process.env.CT_MOCK_PORT ?? "8989", 10);
const auth = process.env.CT_MOCK_AUTH === "1";
const projectKey = process.env.CT_MOCK_PROJECT ?? "test-project";
const als = new AsyncLocalStorage();

class SortingStorage extends InMemoryStorage {
  async query(pk, typeId, params) {
    const sort = als.getStore()?.sort;
    return super.query(pk, typeId, params.sort === undefined && sort ? { ...params, sort } : params);
  }

  async add(pk, typeId, obj, params) {
    // A new cart's totalPrice keeps fractionDigits 0 whatever the currency; commercetools gives the
    // currency's digits (2 for GBP), which every amount is read with.
    const total = obj?.totalPrice;
    if ((typeId === "cart" || typeId === "order") && total?.fractionDigits === 0 && total.currencyCode) {
      total.fractionDigits = new Intl.NumberFormat("en", { style: "currency", currency: total.currencyCode })
        .resolvedOptions().maximumFractionDigits;
    }
    return super.add(pk, typeId, obj, params);
  }

  async forProjectKey(pk) {
    const resources = await super.forProjectKey(pk);
    // The mock keeps no messages; messages.mjs stores them under this type.
    if (!resources.message) resources.message = new resources.order.constructor();
    return resources;
  }
}

const storage = new SortingStorage();
const ctMock = new CommercetoolsMock({
  enableAuthentication: auth,  // both flags needed: with validateCredentials=false no token is checked
  validateCredentials: auth,   // any client_id/secret gets a token; API calls need a token it issued
  defaultProjectKey: projectKey,
  strict: false,               // true = reject unknown draft fields (upstream server.ts uses true)
  silent: process.env.CT_MOCK_LOG !== "1",
  storage,
});
const messages = installMessages(ctMock, storage, projectKey, auth);

let faults = [];

ctMock.app.addHook("onRequest", (request, reply, done) => {
  const path = request.url.split("?")[0];
  if (!path.startsWith("/__emulator")) {
    const fault = faults.find((f) => path.includes(f.path ?? ""));
    if (fault) {
      fault.times -= 1;
      if (fault.times <= 0) faults = faults.filter((f) => f !== fault);
      if (fault.drop) {
        request.raw.socket.destroy();
        return;
      }
      const status = fault.status ?? 503;
      const message = fault.message ?? `injected fault ${status}`;
      const code = fault.code ?? "OverCapacity";
      if (fault.retryAfter !== undefined) reply.header("Retry-After", String(fault.retryAfter));
      reply.code(status).send({ statusCode: status, message, errors: [{ code, message }] });
      return;
    }
  }
  const q = request.query ?? {};
  for (const [name, value] of Object.entries(q)) {
    // The query-string parser turns more than 20 repeated values (var.ids with 100 ids) into an
    // object keyed by index; commercetools takes them as a list.
    if (value && typeof value === "object" && !Array.isArray(value)) q[name] = Object.values(value);
  }
  const bad = (n, max) => n !== undefined && (!/^\d+$/.test(String(n)) || Number(n) > max);
  if (request.method === "GET" && (bad(q.limit, 500) || bad(q.offset, 10000))) {
    const message = "limit must be 0..500 and offset 0..10000";
    reply.code(400).send({ statusCode: 400, message, errors: [{ code: "InvalidInput", message }] });
    return;
  }
  als.run({ sort: q.sort }, done);
});

const seed = async (data) => {
  let n = 0;
  for (const [typeId, items] of Object.entries(data)) {
    for (const item of items) {
      await ctMock.project().unsafeAdd(typeId, item);
      n += 1;
    }
  }
  return n;
};

ctMock.app.post("/__emulator/seed", async (request) => ({ stored: await seed(request.body ?? {}) }));
ctMock.app.post("/__emulator/clear", async () => {
  await ctMock.clear();
  messages.reset();
  faults = [];
  return { cleared: true };
});
ctMock.app.post("/__emulator/revoke-tokens", async () => {
  const store = ctMock.authStore();
  const revoked = store.tokens.length;
  store.tokens = [];
  return { revoked };
});
ctMock.app.post("/__emulator/faults", async (request) => {
  const fault = { times: 1, ...(request.body ?? {}) };
  faults.push(fault);
  return { pending: faults.length };
});
ctMock.app.get("/__emulator/faults", async () => ({ faults }));

if (process.env.CT_MOCK_SEED) {
  await ctMock.app.ready(); // repositories are created in the constructor; ready() loads routes
  await seed(JSON.parse(readFileSync(process.env.CT_MOCK_SEED, "utf8")));
}

await ctMock.app.listen({ port, host: "127.0.0.1" });
console.log(`commercetools-mock on http://127.0.0.1:${ctMock.app.server.address().port}/${projectKey} auth=${auth} pid=${process.pid}`);

const stop = async () => { await ctMock.app.close(); process.exit(0); };
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
