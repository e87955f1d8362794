// Two bot replicas in webhook mode sharing Redis and the real API (both databases), delivering
// notifications while they answer commands: every notification is sent once, each chat's in
// acceptance order, and the one outbound budget keeps both replicas together inside Telegram's
// flood limits — which the Bot API stand-in enforces with 429 + retry_after.
import { describe, expect, test } from "bun:test"
import { notifications, telegramLinks } from "@nps/db"
import { req } from "@nps/testing/api"
import { openTestRedis, TEST_REDIS_URL, testPrefix } from "@nps/testing/redis"
import { startBotApiStandIn } from "@nps/testing/stand-in"
import type { NpsApi } from "../src/api-client"
import { captureLogs, drivers, inProcessApi, realApiWithNotifier, seedUser } from "./harness"
import { type Replica, startReplica } from "./replica"

/** A bot token of its own, so its keys under the product's prefix meet no other run's. */
const freshToken = () =>
  `${100_000_000 + Math.floor(Math.random() * 800_000_000)}:AA${crypto.randomUUID().replaceAll("-", "")}`

let nextChat = 930_000
let nextUser = 0

if (TEST_REDIS_URL)
  for (const driver of drivers()) {
    describe(`two bot replicas delivering, sharing Redis [${driver}]`, () => {
      const suite = realApiWithNotifier(driver, "replica-alerts")

      /** A user linked to one chat. */
      const reader = async (chatId: number) => {
        const seeded = await seedUser(suite.realApi.db, { username: `replica-reader${nextUser++}` })
        await suite.realApi.db
          .insert(telegramLinks)
          .values({ telegramChatId: chatId, userId: seeded.user.id })
        return seeded.user.username
      }
      const notify = async (username: string, text: string) => {
        const res = await req(suite.realApi.app, "POST", "/api/telegram/notifications", {
          token: suite.notifier,
          body: { username, text },
        })
        expect(res.status).toBe(202)
      }

      test("60 notifications and 40 commands through both: each sent once, in order per chat, never a 429", async () => {
        const standIn = await startBotApiStandIn({ token: freshToken(), floodLimits: true })
        const prefix = testPrefix()
        // Each replica's results as the API recorded them; `all` resolves at 60.
        const sentBy = [0, 0]
        let settle: () => void = () => {}
        const all = new Promise<void>((resolve) => {
          settle = resolve
        })
        const apiFor = (n: number): NpsApi => {
          const inner = inProcessApi(suite.realApi, captureLogs().logger)
          return {
            ...inner,
            report: async (results) => {
              const result = await inner.report(results)
              if (result.kind === "ok") {
                sentBy[n] = (sentBy[n] ?? 0) + results.filter((r) => r.outcome === "sent").length
                if ((sentBy[0] ?? 0) + (sentBy[1] ?? 0) >= 60) settle()
              }
              return result
            },
          }
        }
        const replicas: Replica[] = []
        try {
          for (const n of [0, 1])
            replicas.push(
              await startReplica({
                standIn,
                api: apiFor(n),
                redis: (logger) => openTestRedis(logger, { prefix }),
                pacing: "shared",
                // Small leases, so both replicas hold some of the broadcast at once.
                deliveries: { capacity: 8, waitSeconds: 2 },
              }),
            )
          const [a, b] = replicas as [Replica, Replica]

          // 45 chats get one notification each; a group gets 10 and a private chat 5, in order.
          const singles = Array.from({ length: 45 }, () => nextChat++)
          const group = -1_006_000_000_000 - nextChat++
          const busy = nextChat++
          const singleUsers = await Promise.all(singles.map(reader))
          const [groupUser, busyUser] = [await reader(group), await reader(busy)]
          const inOrder = async (username: string, prefix: string, count: number) => {
            for (let i = 1; i <= count; i++) await notify(username, `${prefix} ${i}`)
          }
          // 20 commands to each replica from chats of their own, while the broadcast goes out.
          const askers = Array.from({ length: 40 }, () => nextChat++)
          const answers = await Promise.all([
            ...singleUsers.map((u, i) => notify(u, `hello ${i}`)),
            inOrder(groupUser, "group", 10),
            inOrder(busyUser, "private", 5),
            ...askers.map((chat, i) =>
              standIn.post(standIn.draft(chat, "/help"), { url: i % 2 ? b.url : a.url }),
            ),
          ])
          await all

          const ok = (chatId: number) =>
            standIn
              .sent(chatId)
              .filter((c) => c.status === 200)
              .map((c) => String(c.params.text))
          expect(standIn.floodRefusals).toBe(0)
          expect(standIn.sent().filter((c) => c.status !== 200)).toEqual([])
          singles.forEach((chat, i) => {
            expect(ok(chat)).toEqual([`hello ${i}`])
          })
          expect(ok(group)).toEqual(Array.from({ length: 10 }, (_, i) => `group ${i + 1}`))
          expect(ok(busy)).toEqual(Array.from({ length: 5 }, (_, i) => `private ${i + 1}`))
          // Every command answered once, by the replica it reached; both replicas delivered.
          expect(answers.slice(-40).map((r) => (r as Response).status)).toEqual(Array(40).fill(200))
          for (const chat of askers) expect(ok(chat)).toEqual([expect.stringContaining("/status")])
          expect([a, b].map((r) => r.logs.find("update handled").length)).toEqual([20, 20])
          expect(sentBy[0]).toBeGreaterThan(0)
          expect(sentBy[1]).toBeGreaterThan(0)
          expect((sentBy[0] ?? 0) + (sentBy[1] ?? 0)).toBe(60)
          const statuses = await suite.realApi.db.select().from(notifications)
          expect(statuses.filter((n) => n.status !== "sent")).toEqual([])
          console.log(
            `two replicas [${driver}]: ${standIn.sent().length} messages (60 deliveries: ${sentBy.join(" + ")}, 40 replies), ${standIn.floodRefusals} refused`,
          )
        } finally {
          for (const replica of replicas) await replica.stop()
          await standIn.close()
        }
      }, 60_000)
    })
  }
