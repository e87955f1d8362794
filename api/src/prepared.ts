import type { Db } from "@nps/db"

/**
 * Builds a query's prepared statement once per database handle. The bot's calls hit the same
 * few statements constantly; prepared, Postgres parses and plans each only once per connection.
 */
export function preparedPerDb<T>(build: (db: Db) => T): (db: Db) => T {
  const cache = new WeakMap<Db, T>()
  return (db) => {
    let prepared = cache.get(db)
    if (prepared === undefined) {
      prepared = build(db)
      cache.set(db, prepared)
    }
    return prepared
  }
}
