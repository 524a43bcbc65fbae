/**
 * The one way report code gets danfojs-node.
 *
 * danfojs-node does `require("@tensorflow/tfjs-node")` at load time. package.json overrides that
 * dependency with plain @tensorflow/tfjs, but npm dedupes it against our own optional
 * @tensorflow/tfjs-node, whose native binding is not built on this machine, so the require throws.
 * danfo only uses tfjs for tensor math that pure-JS tfjs also provides, so when the native package
 * cannot load we put @tensorflow/tfjs's exports in Node's require cache under the path danfo
 * resolves, then load danfo.
 */
import Module from "node:module";
import path from "node:path";

export type Danfo = typeof import("danfojs-node");

let cached: Danfo | undefined;

interface CacheableModule {
  id: string;
  filename: string;
  loaded: boolean;
  exports: unknown;
  paths: string[];
}

export function loadDanfo(): Danfo {
  if (cached) return cached;
  try {
    cached = require("danfojs-node") as Danfo;
    return cached;
  } catch (err) {
    if (!/tfjs|tfjs_binding|tensorflow/i.test(String((err as Error).message))) throw err;
  }
  const danfoDir = path.dirname(require.resolve("danfojs-node"));
  const tfNodePath = require.resolve("@tensorflow/tfjs-node", { paths: [danfoDir] });
  const ModuleCtor = Module as unknown as new (id: string, parent?: unknown) => CacheableModule;
  const shim = new ModuleCtor(tfNodePath, module);
  shim.filename = tfNodePath;
  shim.loaded = true;
  shim.exports = require("@tensorflow/tfjs");
  require.cache[tfNodePath] = shim as unknown as NodeJS.Module;
  cached = require("danfojs-node") as Danfo;
  return cached;
}
