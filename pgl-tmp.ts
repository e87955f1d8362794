import { PGlite } from "@electric-sql/pglite"
import { drizzle } from "drizzle-orm/pglite"
import { migrate } from "./db/src/migrate"

let t = performance.now()
const a = await PGlite.create()
console.log("create", performance.now() - t)
t = performance.now()
await migrate(drizzle(a) as any)
console.log("migrate", performance.now() - t)
t = performance.now()
const dump = await a.dumpDataDir("none")
console.log("dump", performance.now() - t, dump.size)
t = performance.now()
const b = await PGlite.create({ loadDataDir: dump })
console.log("load", performance.now() - t)
t = performance.now()
console.log((await b.query("select count(*) from users")).rows)
const c = await a.clone()
console.log("clone", performance.now() - t)
t = performance.now()
const d = await PGlite.create()
console.log("create2", performance.now() - t)
t = performance.now()
