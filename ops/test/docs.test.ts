// The README a newcomer reads in five minutes, and the pages in docs/ it leads to: short, every
// relative link (and its #anchor) resolving inside the repository, and the facts it states true.
import { expect, test } from "bun:test"
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, relative, resolve } from "node:path"
import { ROOT, read } from "./helpers"

const pages = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => `docs/${name}`),
]

/** Markdown outside fenced code blocks (a link in a code sample is not a link). */
const prose = (text: string) => text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "")

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, -1 for repeats. */
export function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>()
  const anchors = new Set<string>()
  for (const [, heading = ""] of prose(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = heading
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1") // a link in a heading keeps its text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-")
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    anchors.add(count ? `${base}-${count}` : base)
  }
  return anchors
}

/** Every inline link and image target in a page's prose. */
const linksOf = (markdown: string) =>
  [...prose(markdown).matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map(
    (m) => m[1] as string,
  )

test("the anchor rule is GitHub's", () => {
  expect([
    ...anchorsOf(
      "# A `dev` walkthrough: step 1\n## Scaling out: replicas\n## Scaling out: replicas",
    ),
  ]).toEqual(["a-dev-walkthrough-step-1", "scaling-out-replicas", "scaling-out-replicas-1"])
})

test("README.md is short, and opens with the two commands a newcomer needs", () => {
  const readme = read("README.md")
  expect(readme.split("\n").length).toBeLessThan(200)
  const opening = readme.split("\n").slice(0, 12).join("\n")
  expect(opening).toContain("bun run dev")
  expect(opening).toContain("bun run test")
  expect(opening).toContain("1.4.5") // the Bun to install when it is missing
})

test("every relative link in README.md and docs/ resolves to a file in the repository, and every #anchor to a heading", () => {
  const broken: string[] = []
  let checked = 0
  for (const page of pages) {
    for (const link of linksOf(read(page))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue // https:, mailto: — not ours to check
      checked++
      const [path = "", anchor] = link.split("#", 2)
      const target = path ? resolve(dirname(join(ROOT, page)), decodeURI(path)) : join(ROOT, page)
      const inside = !relative(ROOT, target).startsWith("..")
      if (!inside || !existsSync(target)) {
        broken.push(`${page}: ${link} (${inside ? "no such file" : "outside the repository"})`)
        continue
      }
      if (anchor === undefined) continue
      const isMarkdown = statSync(target).isFile() && target.endsWith(".md")
      if (!isMarkdown || !anchorsOf(read(relative(ROOT, target))).has(decodeURI(anchor)))
        broken.push(`${page}: ${link} (no heading #${anchor})`)
    }
  }
  expect(broken).toEqual([])
  expect(checked).toBeGreaterThan(30)
})

test("the README leads to every page in docs/", () => {
  const linked = new Set(
    linksOf(read("README.md"))
      .map((link) => link.split("#")[0] as string)
      .filter((path) => path.startsWith("docs/")),
  )
  for (const page of pages.filter((p) => p.startsWith("docs/")))
    expect({ page, linked: linked.has(page) }).toEqual({ page, linked: true })
})

/** How many tests `bun test` finds with this environment (it runs none: the name matches none). */
async function testCount(env: Record<string, string>): Promise<number> {
  const proc = Bun.spawn(["bun", "test", "-t", "^no test is named this$"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdout: "pipe",
    stderr: "pipe",
  })
  const [, out, err] = await Promise.all([
    proc.exited,
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ])
  const count = /skipping (\d+) tests/.exec(`${out}${err}`)?.[1]
  if (!count) throw new Error(`no test count in: ${err.slice(-500)}`)
  return Number(count)
}

test("the README's test counts are true: the Postgres half runs only with TEST_DATABASE_URL", async () => {
  const readme = read("README.md")
  const plain = /more than ([\d,]+) tests/.exec(readme)?.[1]
  const withPostgres = /more than ([\d,]+) with `TEST_DATABASE_URL`/.exec(readme)?.[1]
  expect(plain).toBeDefined()
  expect(withPostgres).toBeDefined()
  const fresh = await testCount({ TEST_DATABASE_URL: "" })
  expect(fresh).toBeGreaterThan(Number(plain?.replace(",", "")))
  if (process.env.TEST_DATABASE_URL) {
    const all = await testCount({ TEST_DATABASE_URL: process.env.TEST_DATABASE_URL })
    expect(all).toBeGreaterThan(Number(withPostgres?.replace(",", "")))
    expect(fresh).toBeLessThan(Number(withPostgres?.replace(",", ""))) // the half is really left out
  }
}, 60_000)

test("the notification page's setup commands work as written on a fresh database, in order", async () => {
  const page = read("docs/notifications-basics.md")
  const block = /## For the services that send them[\s\S]*?```sh\n([\s\S]*?)```/.exec(page)?.[1]
  const commands = (block ?? "")
    .split("\n")
    .map((line) => line.replace(/#.*$/, "").trim())
    .filter((line) => line.startsWith("bun run admin "))
  expect(commands.length).toBeGreaterThanOrEqual(2)
  const dir = mkdtempSync(join(tmpdir(), "nps-docs-"))
  try {
    let last = ""
    for (const command of commands) {
      // Where the CLI would ask for a password at the terminal, give it on standard input.
      const asks = command.includes("create-user") && !command.includes("--password")
      const argv = [...command.split(/\s+/), ...(asks ? ["--password-stdin"] : []), "--json"]
      const proc = Bun.spawn(argv, {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? "", DATABASE_URL: "", PGLITE_DIR: join(dir, "pglite") },
        stdin: new Blob(["a long enough password\n"]),
        stdout: "pipe",
        stderr: "pipe",
      })
      const [code, out, err] = await Promise.all([
        proc.exited,
        new Response(proc.stdout).text(),
        new Response(proc.stderr).text(),
      ])
      expect({ command, code, err }).toEqual({ command, code: 0, err: expect.any(String) })
      last = out
    }
    expect(JSON.parse(last)).toMatchObject({ scopes: ["telegram:notify"] })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}, 60_000)
