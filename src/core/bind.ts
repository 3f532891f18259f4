// Runtime-agnostic: no Node, Deno or DOM APIs.
/**
 * What every runtime entry does to the core classes: binds its default connector factory, so that
 * `new Client(options)` needs no `connector`. The entries differ in that factory and nothing else.
 * @module
 */
import type { ConnectorFactory } from "./transport.ts";

/** A class constructed from its options alone: what an entry's `Client`, `Worker` and `AdminClient` extend. */
export type Bound<O, T> = new (options: O) => T;

/** A core class: options, then the connector factory to use when the options name none. */
type CoreClass<O> = new (options: O, defaultConnector?: ConnectorFactory) => object;

/**
 * Subclasses `BaseClient`, `BaseWorker` or `BaseAdminClient` with `connector` as the default
 * connector factory. Entries mark each call `@__PURE__`, so that bundlers drop the classes a page
 * does not use.
 */
export function withConnector<O, T>(
  Base: new (options: O, defaultConnector?: ConnectorFactory) => T,
  connector: ConnectorFactory,
): Bound<O, T> {
  // A class may not extend a constructor of a type parameter (T), hence CoreClass.
  return class extends (Base as unknown as CoreClass<O>) {
    constructor(options: O) {
      super(options, connector);
    }
  } as unknown as Bound<O, T>;
}
