// What the stock webhook-service sends for a stored payload: packages/webhook-service/src/main.js
// (speckle-server 51d43b91) parses the stored text, builds `{ payload: fullPayload }` and sends
// JSON.stringify of it as the body, signing that text with HMAC-SHA256 under the webhook's secret
// ('' when none). Reads the stored payload on stdin, prints {"body": …, "signature": …}, given
// the secret as argv[2].
import crypto from 'node:crypto'
const chunks = []
for await (const c of process.stdin) chunks.push(c)
const fullPayload = JSON.parse(Buffer.concat(chunks).toString('utf8'))
const postData = { payload: fullPayload }
const body = JSON.stringify(postData)
const signature = crypto.createHmac('sha256', process.argv[2] || '').update(body).digest('hex')
process.stdout.write(JSON.stringify({ body, signature }))
