import knexPkg from 'knex'
const knex = knexPkg.knex ?? knexPkg.default ?? knexPkg
const db = knex({ client: 'pg', connection: process.argv[2] })
await db.raw('CREATE TABLE IF NOT EXISTS streams (id varchar(10) PRIMARY KEY)')
const [batch, log] = await db.migrate.latest({ directory: new URL('./migrations', import.meta.url).pathname, loadExtensions: ['.js', '.ts'] })
console.log(JSON.stringify({ batch, log }))
await db.destroy()
