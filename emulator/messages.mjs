// commercetools Messages for the emulator. @labdigital/commercetools-mock 4.4.0 records none and
// has no /messages endpoint; this records them on the update actions the project reacts to, following
// the documented Message schema (api-specs types/message/*Message.raml):
//   id, version 1, createdAt = lastModifiedAt, sequenceNumber (per resource, previous + 1),
//   resource {typeId, id}, resourceVersion (the version after the update), resourceUserProvidedIdentifiers,
//   type, and the type's own fields.
// Messages live in the mock's storage under the type "message", so GET /{projectKey}/messages answers
// with the mock's own where/sort/limit/offset handling (predicates with var.* input variables included).
//
// Two more documented order update actions the mock lacks are applied here: setReturnPaymentState and
// setReturnShipmentState (a return item reaches Refunded only through the first).
//
// Control: POST /__emulator/messages/expire {"before": "<ISO date>"} deletes older messages, as the
// project's retention (deleteDaysAfterCreation) would; POST /__emulator/messages/delivery
// {"duplicate": true, "reverse": true} answers every later query with each message twice and in
// reverse order (at-least-once, unordered delivery, as a subscription queue may deliver them).
import { randomUUID } from "node:crypto";

const RESOURCES = { customers: "customer", orders: "order", products: "product", payments: "payment" };
const RETURN_ACTIONS = new Set(["setReturnPaymentState", "setReturnShipmentState"]);

// /{pk}/{resource}[/import | /{id} | /key={key}]
const parse = (url, projectKey) => {
  const path = url.split("?")[0].split("/").filter(Boolean);
  if (path[0] !== projectKey || !RESOURCES[path[1]] || path.length > 3) return null;
  const route = { typeId: RESOURCES[path[1]], id: null, key: null, imported: false };
  if (path.length === 3) {
    if (path[2] === "import") route.imported = true;
    else if (path[2].startsWith("key=")) route.key = decodeURIComponent(path[2].slice(4));
    else route.id = decodeURIComponent(path[2]);
  }
  return route;
};

const identifiers = (typeId, r) => {
  const found = {
    key: r.key,
    orderNumber: typeId === "order" ? r.orderNumber : undefined,
    customerNumber: typeId === "customer" ? r.customerNumber : undefined,
    externalId: r.externalId,
    sku: typeId === "product" ? r.masterData?.current?.masterVariant?.sku : undefined,
  };
  return Object.fromEntries(Object.entries(found).filter(([, v]) => v !== undefined && v !== null));
};

const projection = (product, staged = false) => {
  const data = staged ? product.masterData.staged : product.masterData.current;
  return { ...data, id: product.id, version: product.version, key: product.key, productType: product.productType,
           createdAt: product.createdAt, lastModifiedAt: product.lastModifiedAt, published: product.masterData.published };
};

const customFieldMessage = (before, after, { name }) => {
  const old = before?.custom?.fields?.[name];
  const value = after?.custom?.fields?.[name];
  if (value === undefined || value === null) return ["CustomerCustomFieldRemoved", { name }];
  if (old === undefined || old === null) return ["CustomerCustomFieldAdded", { name, value }];
  return ["CustomerCustomFieldChanged", { name, value, previousValue: old }];
};

// What one update action says, as [type, fields] pairs.
const forAction = (typeId, action, before, after) => {
  const a = action.action;
  if (typeId === "customer") {
    if (a === "changeEmail") return [["CustomerEmailChanged", { email: after.email }]];
    if (a === "setCustomField") return [customFieldMessage(before, after, action)];
    if (a === "setCustomType") return [["CustomerCustomTypeSet", { customFields: after.custom ?? null }]];
    if (a === "setFirstName") return [["CustomerFirstNameSet", { firstName: after.firstName }]];
    if (a === "setLastName") return [["CustomerLastNameSet", { lastName: after.lastName }]];
    if (a === "setCustomerGroup") return [["CustomerGroupSet", { customerGroup: after.customerGroup ?? null }]];
  }
  if (typeId === "order") {
    if (a === "changeOrderState")
      return [["OrderStateChanged", { orderState: after.orderState, oldOrderState: before.orderState }]];
    if (a === "changeShipmentState")
      return [["OrderShipmentStateChanged", { shipmentState: after.shipmentState, oldShipmentState: before.shipmentState }]];
    if (a === "changePaymentState")
      return [["OrderPaymentStateChanged", { paymentState: after.paymentState, oldPaymentState: before.paymentState }]];
    if (a === "addReturnInfo") return [["ReturnInfoAdded", { returnInfo: after.returnInfo.at(-1) }]];
    if (a === "setReturnInfo") return [["ReturnInfoSet", { returnInfo: after.returnInfo }]];
    if (a === "setReturnPaymentState")
      return [["OrderReturnItemPaymentStateChanged", { returnItemId: action.returnItemId, paymentState: action.paymentState }]];
    if (a === "setReturnShipmentState")
      return [["OrderReturnShipmentStateChanged", { returnItemId: action.returnItemId, returnShipmentState: action.shipmentState }]];
    if (a === "setCustomerEmail") return [["OrderCustomerEmailSet", { email: after.customerEmail, oldEmail: before.customerEmail }]];
    if (a === "setCustomerId") return [["OrderCustomerSet", { customer: after.customerId ? { typeId: "customer", id: after.customerId } : null }]];
  }
  if (typeId === "payment") {
    if (a === "addTransaction") return [["PaymentTransactionAdded", { transaction: after.transactions.at(-1) }]];
    if (a === "changeTransactionState")
      return [["PaymentTransactionStateChanged", { transactionId: action.transactionId, state: action.state }]];
  }
  if (typeId === "product") {
    if (a === "publish") return [["ProductPublished", { removedImageUrls: [], productProjection: projection(after), scope: action.scope ?? "All" }]];
    if (a === "unpublish") return [["ProductUnpublished", {}]];
  }
  return [];
};

const created = (typeId, resource, imported) => {
  if (typeId === "customer") return ["CustomerCreated", { customer: resource }];
  if (typeId === "order") return [imported ? "OrderImported" : "OrderCreated", { order: resource }];
  if (typeId === "payment") return ["PaymentCreated", { payment: resource }];
  return ["ProductCreated", { productProjection: projection(resource, true) }];
};

const deleted = (typeId, before) => {
  if (typeId === "customer") return ["CustomerDeleted", {}];
  if (typeId === "order") return ["OrderDeleted", { order: before }];
  if (typeId === "payment") return ["PaymentDeleted", {}]; // not a documented type; kept for completeness
  return ["ProductDeleted", { removedImageUrls: [], currentProjection: projection(before) }];
};

export function installMessages(ctMock, storage, projectKey, auth) {
  const sequences = new Map();
  let delivery = { duplicate: false, reverse: false };

  const emit = async (typeId, resource, type, fields, createdAt) => {
    const sequenceNumber = (sequences.get(resource.id) ?? 0) + 1;
    sequences.set(resource.id, sequenceNumber);
    const message = {
      id: randomUUID(), version: 1, createdAt, lastModifiedAt: createdAt, sequenceNumber,
      resource: { typeId, id: resource.id }, resourceVersion: resource.version,
      resourceUserProvidedIdentifiers: identifiers(typeId, resource), type, ...fields,
    };
    await storage.add(projectKey, "message", message);
  };

  const find = async (route) =>
    route.id ? storage.get(projectKey, route.typeId, route.id) : storage.getByKey(projectKey, route.typeId, route.key);

  ctMock.app.addHook("preHandler", async (request) => {
    if (!["POST", "DELETE"].includes(request.method)) return;
    const route = parse(request.url, projectKey);
    if (!route) return;
    request.ctMessages = route;
    if (route.id || route.key) {
      const before = await find(route);
      request.ctMessages.before = before ? structuredClone(before) : null;
      const actions = request.body?.actions;
      if (route.typeId === "order" && Array.isArray(actions) && actions.some((x) => RETURN_ACTIONS.has(x.action))) {
        request.ctMessages.returnActions = actions.filter((x) => RETURN_ACTIONS.has(x.action));
        request.body.actions = actions.filter((x) => !RETURN_ACTIONS.has(x.action));
      }
    }
  });

  ctMock.app.addHook("onSend", async (request, reply, payload) => {
    const route = request.ctMessages;
    if (!route || reply.statusCode >= 300 || typeof payload !== "string") return payload;
    let body = JSON.parse(payload);
    let resource = route.typeId === "customer" && body.customer ? body.customer : body;
    const now = new Date().toISOString();
    if (route.returnActions) {
      // Applied after the mock's own actions, in the same update: one version step for the request.
      const stored = await storage.get(projectKey, "order", resource.id);
      const bumped = stored.version === route.before.version;
      for (const action of route.returnActions) {
        for (const info of stored.returnInfo ?? []) {
          for (const item of info.items) {
            if (item.id !== action.returnItemId) continue;
            if (action.action === "setReturnPaymentState") item.paymentState = action.paymentState;
            else item.shipmentState = action.shipmentState;
            item.lastModifiedAt = now;
          }
        }
      }
      if (bumped) stored.version += 1;
      stored.lastModifiedAt = now;
      await storage.add(projectKey, "order", stored);
      body = resource = stored;
      request.body.actions = [...request.body.actions, ...route.returnActions];
    }
    if (request.method === "DELETE") {
      const [type, fields] = deleted(route.typeId, route.before ?? resource);
      await emit(route.typeId, { ...resource, version: resource.version }, type, fields, now);
    } else if (!route.id && !route.key) {
      const [type, fields] = created(route.typeId, resource, route.imported);
      await emit(route.typeId, resource, type, fields, resource.createdAt ?? now);
    } else if (resource.version !== route.before?.version) {
      for (const action of request.body?.actions ?? []) {
        for (const [type, fields] of forAction(route.typeId, action, route.before, resource)) {
          await emit(route.typeId, resource, type, fields, resource.lastModifiedAt ?? now);
        }
      }
    }
    return route.returnActions ? JSON.stringify(route.typeId === "customer" && JSON.parse(payload).customer ? { customer: body } : body) : payload;
  });

  ctMock.app.get("/:projectKey/messages", async (request, reply) => {
    if (auth) {
      const token = (request.headers.authorization ?? "").replace(/^Bearer /, "");
      if (!token || !ctMock.authStore().validateToken(token)) {
        const message = "invalid_token";
        return reply.code(401).send({ statusCode: 401, message, errors: [{ code: "invalid_token", message }] });
      }
    }
    if (request.params.projectKey !== projectKey) {
      return reply.code(404).send({ statusCode: 404, message: "project not found" });
    }
    const q = request.query ?? {};
    const params = { ...q, limit: q.limit !== undefined ? Number(q.limit) : 20, offset: q.offset !== undefined ? Number(q.offset) : 0 };
    if (Array.isArray(q.where)) params.where = q.where.map((w) => `(${w})`).join(" and ");
    const result = await storage.query(projectKey, "message", params);
    if (q.withTotal === "false") delete result.total;
    if (delivery.duplicate) result.results = result.results.flatMap((m) => [m, structuredClone(m)]);
    if (delivery.reverse) result.results.reverse();
    result.count = result.results.length;
    return result;
  });

  ctMock.app.post("/__emulator/messages/delivery", async (request) => {
    delivery = { duplicate: Boolean(request.body?.duplicate), reverse: Boolean(request.body?.reverse) };
    return delivery;
  });

  ctMock.app.post("/__emulator/messages/expire", async (request) => {
    const before = request.body?.before;
    const all = await storage.all(projectKey, "message");
    const store = (await storage.forProjectKey(projectKey)).message;
    let expired = 0;
    for (const message of all) {
      if (message.createdAt < before) {
        store.delete(message.id);
        expired += 1;
      }
    }
    return { expired };
  });

  return {
    reset() {
      delivery = { duplicate: false, reverse: false };
      sequences.clear();
    },
  };
}
