// The Dockerfiles' invariants, checked without a Docker engine: a real Dockerfile linter, then
// what PITFALLS.md says goes wrong with Bun images (unpinned or mismatched Bun, shell-form CMD or
// a script runner swallowing SIGTERM, root user, workspace manifests missing for a frozen
// install, tests shipped, curl healthchecks on an image without curl).
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test"
import { mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ciBunVersion, ROOT, read, rootPackage, scriptArgv } from "./helpers"
import { type BuildCache, buildImage, dockerIgnore, readDockerfile } from "./image"

setDefaultTimeout(30_000)

const IMAGES = [
  { name: "api", dockerfile: "api/Dockerfile", start: "start:api" },
  { name: "bot", dockerfile: "bot/Dockerfile", start: "start:bot" },
] as const

const scratch = mkdtempSync(join(tmpdir(), "nps-ops-images-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))
const cache: BuildCache = new Map()

test("the Bun version is one and the same in CI, package.json and every Dockerfile stage", () => {
  const version = ciBunVersion()
  expect(rootPackage().packageManager).toBe(`bun@${version}`)
  for (const { dockerfile } of IMAGES) {
    const { stages } = readDockerfile(join(ROOT, dockerfile))
    expect(stages.length).toBeGreaterThanOrEqual(2) // dependencies, then runtime
    for (const stage of stages) expect(stage.image).toBe(`oven/bun:${version}-slim`)
  }
})

test("the Dockerfiles need nothing from a registry but their base image (no # syntax= frontend)", () => {
  for (const { dockerfile } of IMAGES) {
    // A parser directive is a `# key=value` comment before the first instruction.
    const directives = read(dockerfile)
      .split("\n")
      .filter((line) => /^#\s*syntax\s*=/i.test(line))
    expect({ dockerfile, directives }).toEqual({ dockerfile, directives: [] })
  }
})

test(".dockerignore keeps secrets, dependencies, local data and tests out of the build context", () => {
  const ignored = dockerIgnore(ROOT)
  for (const path of [
    ".env",
    ".env.production",
    "node_modules/elysia/package.json",
    "api/node_modules/x",
    ".data/pglite/PG_VERSION",
    ".git/HEAD",
    "api/test/auth.test.ts",
    "bot/test/harness.ts",
    "db/test/helpers.ts",
  ])
    expect({ path, ignored: ignored(path) }).toEqual({ path, ignored: true })
  for (const path of [".env.example", "api/src/main.ts", "db/drizzle/meta/_journal.json"])
    expect({ path, ignored: ignored(path) }).toEqual({ path, ignored: false })
})

for (const image of IMAGES) {
  describe(image.dockerfile, () => {
    const dockerfile = () => readDockerfile(join(ROOT, image.dockerfile))

    test("passes dockerfile-utils lint with no problem at all", async () => {
      const proc = Bun.spawn(
        [
          "bun",
          "node_modules/dockerfile-utils/bin/dockerfile-utils",
          "lint",
          "-j",
          image.dockerfile,
        ],
        { cwd: ROOT, stdout: "pipe", stderr: "pipe" },
      )
      const [code, out] = await Promise.all([proc.exited, new Response(proc.stdout).text()])
      expect(JSON.parse(out)).toEqual([])
      expect(code).toBe(0)
    })

    test(`runs ${image.start} in exec form as the non-root bun user`, () => {
      const { final } = dockerfile()
      expect(final.cmd).toEqual(scriptArgv(image.start))
      expect(final.cmd?.[0]).toBe("bun")
      expect(final.cmd).not.toContain("run") // a script runner would not forward SIGTERM
      expect(final.user).toBe("bun")
      expect(final.env.NODE_ENV).toBe("production")
    })

    test("installs production dependencies from the root lockfile with every workspace manifest", () => {
      const { stages } = dockerfile()
      const installers = stages.filter((s) => s.runs.some((r) => r.startsWith("bun install")))
      expect(installers).toHaveLength(1)
      const deps = installers[0] as (typeof installers)[number]
      const run = deps.runs.find((r) => r.startsWith("bun install")) as string
      expect(run).toContain("--frozen-lockfile")
      expect(run).toContain("--production")
      const copied = deps.copies.flatMap((c) => c.sources)
      for (const file of ["package.json", "bun.lock", "bunfig.toml"]) expect(copied).toContain(file)
      for (const workspace of rootPackage().workspaces)
        expect(copied).toContain(`${workspace}/package.json`)
      // The runtime stage takes node_modules from that stage, never from the build context.
      const final = stages.at(-1)
      expect(final?.copies.some((c) => c.from === deps.name && c.dest === "node_modules")).toBe(
        true,
      )
    })

    test("has a healthcheck that needs no curl or wget", () => {
      const { final, text } = dockerfile()
      expect(final.healthcheck?.cmd[0]).toBe("bun")
      const instructions = text.split("\n").filter((line) => !line.trimStart().startsWith("#"))
      expect(instructions.join("\n")).not.toMatch(/\b(curl|wget)\b/)
    })

    test("copies source and migrations, without tests, local data or secrets", async () => {
      const built = await buildImage(dockerfile(), { context: ROOT, into: scratch, cache })
      const files = built.files()
      expect(files).toContain(scriptArgv(image.start)[1] as string)
      // Type-checking packages never run in production (elysia's optional peers pulled them in).
      const modules = readdirSync(join(built.workdir, "node_modules"))
      expect(modules.filter((m) => ["typescript", "@types", "bun-types"].includes(m))).toEqual([])
      // Test tools, not the product.
      expect(files.filter((f) => f.startsWith("testing/src") || /stand-in/.test(f))).toEqual([])
      expect(files.filter((f) => /(^|\/)(test|tests|bench)\/|\.test\.ts$/.test(f))).toEqual([])
      expect(files.filter((f) => /^\.env|(^|\/)\.data\//.test(f))).toEqual([])
      if (image.name === "api") {
        // db:migrate reads the journal and the SQL at run time.
        for (const f of ["db/drizzle/meta/_journal.json", "db/rollback/0000_core.sql"])
          expect(files).toContain(f)
      }
      // That it is enough to run is ops/test/containers.test.ts: it runs the image.
    })
  })
}

test("the lint:docker script lints compose.yaml and both Dockerfiles", () => {
  const script = rootPackage().scripts["lint:docker"] ?? ""
  expect(script).toContain("dclint compose.yaml --max-warnings 0")
  expect(script).toContain("dclint ops/docker/compose.standin.yaml --max-warnings 0")
  for (const { dockerfile } of IMAGES)
    expect(script).toContain(`dockerfile-utils lint ${dockerfile}`)
  expect(read(".ci/run")).toContain("bun run lint:docker")
})

test("the bot image runs without the JIT, its memory budget (58 MB instead of 94 MB: bun run bench)", () => {
  expect(readDockerfile(join(ROOT, "bot/Dockerfile")).final.env.BUN_JSC_useJIT).toBe("0")
})
