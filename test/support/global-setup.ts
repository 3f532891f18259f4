// Node: vitest globalSetup for integration and browser projects: one shared job server per run,
// gearmand by default or the embedded server with GEARMAN_SDK_SERVER=embedded.
import type {} from "vitest";
import type { TestProject } from "vitest/node";
import { type Gearmand, startGearmand } from "./gearmand.ts";

declare module "vitest" {
  export interface ProvidedContext {
    gearmandPort: number;
  }
}

let server: Gearmand | undefined;

export async function setup(project: TestProject): Promise<void> {
  server = await startGearmand({ args: ["--threads=0"] });
  project.provide("gearmandPort", server.port);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
