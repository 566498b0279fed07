// Makes Speckle's webhook tables in the database named by argv[2] the way Speckle's server does:
// knex's migrator over Speckle's own migration files (./migrations, verbatim), loading `.js` and
// `.ts` as Speckle's test environment does (run under `node --import tsx`). The first migration
// references `streams`, so a minimal one is made first (Speckle's own has more columns, none of
// which the webhook tables use). Prints knex's result as JSON.
import knexPkg from 'knex'
const knex = knexPkg.knex ?? knexPkg.default ?? knexPkg
const db = knex({ client: 'pg', connection: process.argv[2] })
await db.raw('CREATE TABLE IF NOT EXISTS streams (id varchar(10) PRIMARY KEY)')
const [batch, log] = await db.migrate.latest({
  directory: new URL('./migrations', import.meta.url).pathname,
  loadExtensions: ['.js', '.ts']
})
console.log(JSON.stringify({ batch, log }))
await db.destroy()
