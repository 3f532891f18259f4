// Node only: the playground's code loading. Node cannot run TypeScript, so the server-side pieces
// come from `dist/` (`npm run build`) when they are there, and are otherwise bundled from source with
// esbuild into playground/dist/server/. The page script (playground/main.ts and every module it
// imports) is always bundled from source into playground/dist/main.js.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");

const builds = new Map();

/** Bundles one TypeScript entry with esbuild (once per process and output). */
function bundle(entry, outfile, platform) {
  let done = builds.get(outfile);
  if (!done) {
    done = (async () => {
      let esbuild;
      try {
        esbuild = await import("esbuild");
      } catch (err) {
        throw new Error(`cannot bundle ${entry}: esbuild is missing (run \`npm ci\`, or \`npm run build\` first)`, { cause: err });
      }
      await esbuild.build({
        entryPoints: [join(root, entry)],
        outfile: join(here, "dist", outfile),
        bundle: true,
        format: "esm",
        platform,
        target: platform === "node" ? "node20" : "es2022",
        sourcemap: true,
        logLevel: "silent",
        // Node bundles keep `ws` and friends as imports from node_modules.
        ...(platform === "node" ? { packages: "external" } : {}),
      });
      return join(here, "dist", outfile);
    })();
    builds.set(outfile, done);
    done.catch(() => builds.delete(outfile));
  }
  return done;
}

/** A module of this package: `dist/<name>.js` when built, else bundled from `source`. */
export async function load(name, source) {
  const built = join(root, "dist", `${name}.js`);
  const file = existsSync(built) ? built : await bundle(source, `server/${name}.mjs`, "node");
  return await import(pathToFileURL(file).href);
}

/** Bundles playground/main.ts for the page; resolves once playground/dist/main.js is written. */
export function buildPage() {
  return bundle("playground/main.ts", "main.js", "browser");
}
