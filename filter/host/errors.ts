/** Thrown when Envoy would refuse the plugin; the message is the one Envoy logs for that refusal. */
export class PluginLoadError extends Error {
  override name = 'PluginLoadError';
}

/** A wasm trap (or a host-raised trap such as restricted_callback); the VM that raised it is failed. */
export class WasmTrap extends Error {
  override name = 'WasmTrap';
}
