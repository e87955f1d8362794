// A Db that counts the statements it (or a transaction of it) begins: for tests that a batch's
// cost does not grow with its size, on either driver (the count is taken above the driver).
import type { Db } from "@nps/db"

const STATEMENTS = new Set(["select", "selectDistinct", "insert", "update", "delete", "execute"])

/** `db`, counting each statement it (or a transaction of it) begins. */
export function counting(db: Db) {
  const counter = { n: 0 }
  const wrap = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(t, prop, receiver) {
        const value = Reflect.get(t, prop, receiver)
        if (typeof value !== "function") return value
        if (prop === "transaction")
          return (body: (tx: unknown) => unknown, ...rest: unknown[]) =>
            value.call(t, (tx: object) => body(wrap(tx)), ...rest)
        if (STATEMENTS.has(String(prop)))
          return (...args: unknown[]) => {
            counter.n++
            return value.apply(t, args)
          }
        return value.bind(t)
      },
    })
  return { db: wrap(db), counter }
}
