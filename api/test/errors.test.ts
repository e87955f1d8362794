import { expect, test } from "bun:test"
import { createLogger, redact } from "@nps/log"
import { toErrorReply } from "../src/errors"

test("a unique violation becomes a generic 409 without Postgres detail", () => {
  const pgError = Object.assign(
    new Error('duplicate key value violates unique constraint "users_username_key"'),
    {
      code: "23505",
      detail: "Key (username)=(alice) already exists.",
      constraint_name: "users_username_key",
    },
  )
  const wrapped = Object.assign(new Error("Failed query: insert into users ..."), {
    cause: pgError,
  })
  const reply = toErrorReply("UNKNOWN", wrapped)
  expect(reply.status).toBe(409)
  expect(JSON.stringify(reply.body)).not.toMatch(/users_username|alice|insert|duplicate key/)
})

test("anything unexpected is a 500 that says nothing about the internals", () => {
  const reply = toErrorReply(
    "UNKNOWN",
    new Error('relation "secret_table" does not exist; SELECT * FROM ...'),
  )
  expect(reply.status).toBe(500)
  expect(reply.body).toEqual({
    error: "internal_error",
    message: "Something went wrong; it has been logged",
  })
})

test("connection failures of either driver map to 503", () => {
  for (const code of ["ECONNREFUSED", "CONNECTION_CLOSED", "57P01", "08006"]) {
    expect(toErrorReply("UNKNOWN", Object.assign(new Error("x"), { code })).status).toBe(503)
  }
  expect(toErrorReply("UNKNOWN", new Error("PGlite is closed")).status).toBe(503)
})

test("log lines never carry API keys, bot tokens, JWTs or secret-named fields", () => {
  const lines: string[] = []
  const log = createLogger({
    service: "t",
    write: (l) => lines.push(l),
    secrets: ["exact-secret-value"],
  })
  const token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_"
  log.error("fetch failed", {
    error: Object.assign(
      new TypeError(`fetch to https://api.telegram.org/bot${token}/getUpdates failed`),
      {
        path: `https://api.telegram.org/bot${token}/getUpdates`,
      },
    ),
    url: `https://api.telegram.org/bot${token}/sendMessage`,
    text: "/link nps_AAAABBBBCCCCDDDDEEEEFFFFGGGGHHHHIIIIJJJJKKK",
    bearer: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    password: "hunter2",
    note: "contains exact-secret-value inside",
  })
  const line = lines.join("\n")
  for (const secret of [
    "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_",
    "AAAABBBB",
    "eyJhbGciOiJIUzI1NiJ9",
    "hunter2",
    "exact-secret-value",
  ]) {
    expect(line).not.toContain(secret)
  }
  expect(JSON.parse(line)).toMatchObject({ level: "error", service: "t", msg: "fetch failed" })
  expect(redact("plain text stays")).toBe("plain text stays")
})
