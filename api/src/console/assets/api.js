// The console's GraphQL client and its session. The token lives in this tab's sessionStorage
// (falling back to memory) and travels only in the Authorization header: never in a URL, a
// cookie or a log, so there is no cookie to forge requests with and nothing for CSRF to ride on.

const KEY = 'streamhooks.token';
let memory = null;

function store() {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

export function token() {
  return store()?.getItem(KEY) ?? memory;
}

export function signIn(value) {
  memory = value;
  try {
    store()?.setItem(KEY, value);
  } catch {
    // Storage full or refused: the token stays in memory until the tab reloads.
  }
}

export function signOut() {
  memory = null;
  store()?.removeItem(KEY);
}

/** A GraphQL error answer: `code` is the first error's `extensions.code` (e.g. FORBIDDEN). */
export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

/** POSTs one operation to /graphql; returns `data` or throws an ApiError with the server's words. */
export async function gql(query, variables = {}, bearer = token()) {
  return (await gqlAnswer(query, variables, bearer)).data;
}

/** `gql`, returning the answer's `extensions` (notes beside the data) with its `data`. */
export async function gqlAnswer(query, variables = {}, bearer = token()) {
  const headers = { 'content-type': 'application/json', accept: 'application/json' };
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  let res;
  try {
    res = await fetch('/graphql', {
      method: 'POST',
      headers,
      body: JSON.stringify({ query, variables }),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError('The server did not answer; is streamhooks still running?', 'NETWORK');
  }
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(`The server answered HTTP ${res.status}: ${text.slice(0, 300)}`, 'HTTP');
  }
  if (Array.isArray(body.errors) && body.errors.length > 0) {
    const message = body.errors.map((e) => e.message).join(' ');
    throw new ApiError(message, body.errors[0]?.extensions?.code ?? 'ERROR');
  }
  return { data: body.data, extensions: body.extensions ?? {} };
}

let triggers = null;
/** The trigger names the server accepts, asked once per page load. */
export function webhookTriggers() {
  triggers ??= gql('query ConsoleTriggers { webhookTriggers }').then(
    (d) => d.webhookTriggers,
    (e) => {
      triggers = null;
      throw e;
    },
  );
  return triggers;
}

const WEBHOOK_FIELDS = 'id streamId url description triggers enabled hasSecret disabledReason';

export const Q = {
  me: 'query ConsoleMe { activeUser { id name } }',
  streamWebhooks: `query ConsoleWebhooks($stream: String!) {
    stream(id: $stream) { id name role webhooks { totalCount items { ${WEBHOOK_FIELDS}
      history(limit: 1) { totalCount items { id status statusInfo retryCount lastUpdate attempts { number } } } } } } }`,
  webhook: `query ConsoleWebhook($stream: String!, $id: String!) {
    stream(id: $stream) { id name webhooks(id: $id) { items { ${WEBHOOK_FIELDS} } } } }`,
  deliveries: `query ConsoleDeliveries($stream: String!, $id: String!, $limit: Int!, $cursor: String) {
    stream(id: $stream) { id name webhooks(id: $id) { items { ${WEBHOOK_FIELDS}
      history(limit: $limit, cursor: $cursor) { totalCount cursor items { id status statusInfo retryCount lastUpdate payload
        attempts { number startedAt durationMs outcome statusCode error responseHeaders { name value } responseBody worker } } } } } } }`,
  create: 'mutation ConsoleCreate($w: WebhookCreateInput!) { webhookCreate(webhook: $w) }',
  update: 'mutation ConsoleUpdate($w: WebhookUpdateInput!) { webhookUpdate(webhook: $w) }',
  remove: 'mutation ConsoleDelete($w: WebhookDeleteInput!) { webhookDelete(webhook: $w) }',
  ping: 'mutation ConsolePing($w: WebhookPingInput!) { webhookPing(webhook: $w) }',
  redeliver: 'mutation ConsoleRedeliver($e: WebhookEventRedeliverInput!) { webhookEventRedeliver(event: $e) }',
  redeliverFailed: 'mutation ConsoleRedeliverFailed($w: WebhookRedeliverFailedInput!) { webhookRedeliverFailed(webhook: $w) }',
};
