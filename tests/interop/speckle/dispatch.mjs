// Queues webhook events the way Speckle's server does: `dispatchStreamEventFactory` in
// packages/server/modules/webhooks/services/webhooks.ts (speckle-server 51d43b91), with its
// repositories' queries (`getStreamWebhooksFactory`, `createWebhookEventFactory` in
// repositories/webhooks.ts) written out in knex. Each matching enabled webhook of the stream gets
// one row, inserted on its own (no transaction), status/statusInfo/lastUpdate left to their
// defaults, payload JSON.stringify({...payload, webhook}).
//
// Usage: node dispatch.mjs <connection> '<job>', where job is
//   {"streamId": …, "event": "commit_create", "eventPayload": {…}, "server": {…}, "count": N}
// `eventPayload` stands for what the server's callers pass (streamId, userId, event: {…}, …);
// `server` for getServerInfo() plus canonicalUrl (the server's tables are not here, nor its
// streams and users: their rows are given in eventPayload as `stream` and `user`). `count`
// repeats the dispatch (default 1). Prints the new event ids, one per line.
import knexPkg from 'knex'
import crs from 'crypto-random-string'
const knex = knexPkg.knex ?? knexPkg.default ?? knexPkg
const db = knex({ client: 'pg', connection: process.argv[2] })
const job = JSON.parse(process.argv[3])

const toTriggersArray = (triggers) => Object.keys(triggers)
const getStreamWebhooks = async ({ streamId }) => {
  const webhooks = await db('webhooks_config').select('*').where({ streamId }).orderBy('updatedAt', 'desc')
  return webhooks.map((webhook) => ({ ...webhook, triggers: toTriggersArray(webhook.triggers) }))
}
const createWebhookEvent = async (event) => await db('webhooks_events').insert(event).returning('id')

const dispatchStreamEvent = async ({ streamId, event, eventPayload }) => {
  const payload = { ...eventPayload, server: { ...job.server } }
  delete payload.server.id
  const rows = await getStreamWebhooks({ streamId })
  const ids = []
  for (const wh of rows) {
    if (!wh.enabled) continue
    if (!wh.triggers.includes(event)) continue
    wh.triggers = Object.keys(wh.triggers)
    delete wh.secret
    const [{ id }] = await createWebhookEvent({
      id: crs({ length: 20 }),
      webhookId: wh.id,
      payload: JSON.stringify({ ...payload, webhook: wh })
    })
    ids.push(id)
  }
  return ids
}

for (let i = 0; i < (job.count ?? 1); i++) {
  const ids = await dispatchStreamEvent(job)
  for (const id of ids) console.log(id)
}
await db.destroy()
