// Runs every ```ts readme-example block of README.md against the test gearmand.
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, inject, it } from "vitest";

const readme = readFileSync(resolve(__dirname, "../../README.md"), "utf8");
const blocks = [...readme.matchAll(/```ts readme-example\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe("README examples", () => {
  it("has examples to run", () => {
    expect(blocks.length).toBe(3);
  });
  blocks.forEach((code, i) => {
    it(`example ${i + 1} runs against gearmand`, async () => {
      const port = inject("gearmandPort");
      const entry = resolve(__dirname, "../../src/node.ts");
      const source = code
        .replace(/from "gearman-sdk"/g, `from ${JSON.stringify(entry)}`)
        .replace(/from "gearman-sdk\/server"/g, `from ${JSON.stringify(resolve(__dirname, "../../src/server/node.ts"))}`)
        .replace(/127\.0\.0\.1:4730/g, `127.0.0.1:${port}`)
        // Function names get a per-example suffix so examples never share a queue.
        .replace(/"(reverse|count|picky|words|upper)"/g, `"$1_readme${i}"`);
      const dir = mkdtempSync(join(__dirname, ".readme-"));
      const file = join(dir, `example-${i}.ts`);
      writeFileSync(file, `${source}\nexport {};\n`);
      const logs: string[] = [];
      const original = console.log;
      console.log = (...args: unknown[]) => void logs.push(args.map(String).join(" "));
      try {
        await import(/* @vite-ignore */ file);
      } finally {
        console.log = original;
        rmSync(dir, { recursive: true, force: true });
      }
      if (i === 0) {
        expect(logs).toContain("olleh");
        expect(logs).toContain("counted 3");
        expect(logs).toContain("3/3");
        // The comment beside the `for await` loop lists the events in the order they come.
        const types = new Set(["created", "status", "data", "warning", "complete", "fail", "exception"]);
        expect(logs.filter((l) => types.has(l))).toEqual(["created", "status", "status", "status", "data", "complete"]);
        expect(code).toContain("console.log(event.type);               // created, status ×3, data, complete");
      } else if (i === 1) {
        expect(logs).toContain("ALPHA,BETA,GAMMA");
      } else {
        expect(logs).toContain("HELLO!");
      }
    });
  });
});

describe("README policy file", () => {
  it("is a valid gearman-bridge policy", async () => {
    const { parsePolicyFile } = await import("../../bridge/cli.ts");
    const json = /```json\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(json).toBeDefined();
    const { policy, limits } = parsePolicyFile(json!, { BRIDGE_HMAC_SECRET: "s3cret" });
    expect(Object.keys(policy.tokens ?? {})).toEqual(["page-token-1", "worker-token-1"]);
    expect(policy.hmac?.secret).toBe("s3cret");
    expect(limits.submitsPerSecond).toBe(100);
    expect(() => parsePolicyFile(json!, {})).toThrow(/secret/);
  });

  it("the gearman-bridge command line, as written, starts a bridge on that policy after `npm install gearman-sdk`", async () => {
    const { main } = await import("../../bridge/cli.ts");
    const pkg = JSON.parse(readFileSync(resolve(__dirname, "../../package.json"), "utf8"));
    expect(Object.keys(pkg.bin)).toContain("gearman-bridge");
    const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes("gearman-bridge")) ?? "";
    const lines = block.split("\n").map((l) => l.replace(/\s+#.*$/, "").trim());
    // A package's bins are not on PATH after `npm install`: `npx` runs them.
    const m = /^npx gearman-bridge (.*)$/.exec(lines.find((l) => l.includes("gearman-bridge")) ?? "");
    expect(m, `README bridge command:\n${block}`).not.toBeNull();
    // The environment the block exports (the policy's hmac.secretEnv among it), with a value of our own.
    const env = Object.fromEntries(lines.flatMap((l) => /^export ([A-Z_]+)=/.exec(l)?.[1] ?? []).map((k) => [k, "readme-secret"]));
    const dir = mkdtempSync(join(__dirname, ".readme-"));
    try {
      writeFileSync(join(dir, "policy.json"), /```json\n([\s\S]*?)```/.exec(readme)![1]!);
      const args = m![1]!.trim().split(/\s+/).map((a) => a === "policy.json" ? join(dir, a) : a
        .replace("127.0.0.1:4731", "127.0.0.1:0").replace("127.0.0.1:4730", `127.0.0.1:${inject("gearmandPort")}`));
      const log = console.log;
      console.log = () => {};
      const bridge = await main(args, env).finally(() => (console.log = log));
      expect(bridge!.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/gearman$/);
      await bridge!.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
