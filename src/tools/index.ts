/**
 * src/tools: the project's own machinery around the notebooks — executing them in Jupyter, serving them,
 * rendering their HTML in headless Chromium. Used by the CLIs and tests; notebooks never import it.
 */
export { NOTEBOOKS_DIR, listNotebooks, notebookErrors, localKernelEnv, executeNotebook, numberExecutedCells, exportNotebookHtml } from "./notebooks";
export type { NbOutput, NbCell, NotebookJson, ExecutedNotebook } from "./notebooks";
export { CHROMIUM_FLAGS, chromiumPath, renderPage, type RenderedPage } from "./browser";
export { CHECKOUT_TSLAB, startNotebookServer, resolveKernelArgv0, type NotebookServer, type NotebookServerOptions } from "./jupyter-server";
