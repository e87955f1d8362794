// The outbound path around the chat follower, through the Bot API stand-in: what a 403 or a
// migration does to the outbound budget and to a delivery's standing. No database: the NPS API
// here is a stand-in whose calls the test holds or records.
import { afterEach, expect, test } from "bun:test"
import type { Delivery, DeliveryReport, NpsApi } from "../src/api-client"
import { createPacer, type Pacer, type Priority } from "../src/outbound/pacer"
import { deferred, type Harness, NO_LIMITS, startHarness, unreachableApi } from "./harness"

let h: Harness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

/** One message at a time to a chat, as long as its send is in flight (nothing after it). */
const ONE_AT_A_TIME = { ...NO_LIMITS, privateChat: { limit: 1, windowMs: 1 } }

test("a 403 gives the outbound permit back before the chat is marked blocked with the NPS API", async () => {
  const marking = deferred()
  const release = deferred()
  const api: NpsApi = {
    ...unreachableApi(),
    setBlocked: async () => {
      marking.resolve()
      await release.promise
      return { kind: "ok" }
    },
  }
  h = await startHarness({ api, pacer: createPacer({ limits: ONE_AT_A_TIME }) })
  const chat = 515_001
  h.standIn.fail("sendMessage", { status: 403 })
  const refused = h.nps.bot.api.sendMessage({ chat_id: chat, text: "first" }).catch((e) => e)
  await marking.promise
  // The NPS API is still being told; the chat's next message must not wait for it.
  const next = h.nps.bot.api.sendMessage({ chat_id: chat, text: "second" }).then(() => "sent")
  const held = Bun.sleep(3_000).then(() => "held by the 403's permit")
  expect(await Promise.race([next, held])).toBe("sent")
  release.resolve()
  expect(await refused).toMatchObject({ code: 403 })
})

test("a delivery moved to a supergroup is resent as the same delivery, not as a reply", async () => {
  const group = -4_200_000_001
  const supergroup = -1_004_200_000_001
  const reported = deferred<DeliveryReport[]>()
  let leased = false
  const delivery = {
    id: 1,
    notification_id: "n1",
    telegram_chat_id: group,
    text: "the oracle has news",
    attempts: 0,
  } as unknown as Delivery
  const api: NpsApi = {
    ...unreachableApi(),
    lease: async (_input, signal) => {
      if (!leased) {
        leased = true
        return {
          kind: "ok",
          lease: { lease_id: "lease-1", lease_seconds: 60, deliveries: [delivery] },
        } as Awaited<ReturnType<NpsApi["lease"]>>
      }
      await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }))
      return { kind: "unavailable" }
    },
    report: async (results) => {
      reported.resolve(results)
      return { kind: "ok", stale: 0 } as Awaited<ReturnType<NpsApi["report"]>>
    },
    migrate: async () => ({ kind: "ok" }),
  }
  // Which priority each paced message asked the budget for.
  const asked: [number | string, Priority][] = []
  const inner = createPacer({ limits: NO_LIMITS })
  const pacer: Pacer = {
    acquire: (chatId, priority, signal) => {
      asked.push([chatId, priority])
      return inner.acquire(chatId, priority, signal)
    },
    pause: (ms) => inner.pause(ms),
    get waiting() {
      return inner.waiting
    },
  }
  h = await startHarness({ api, pacer, start: false, deliveries: { waitSeconds: 1 } })
  h.standIn.chat(group, { type: "group" })
  h.standIn.fail("sendMessage", {
    status: 400,
    description: "Bad Request: group chat was upgraded to a supergroup chat",
    parameters: { migrate_to_chat_id: supergroup },
  })
  await h.nps.start()
  expect(await reported.promise).toEqual([
    expect.objectContaining({ id: 1, outcome: "sent", chat_id: supergroup }),
  ])
  expect(asked).toEqual([
    [group, "delivery"],
    [supergroup, "delivery"],
  ])
})
