/**
 * src/tools: the project's own machinery around the notebooks — executing them in Jupyter, serving them,
 * rendering their HTML in headless Chromium, recording how long each step took. Used by the CLIs and tests;
 * notebooks never import it.
 */
export {
  NOTEBOOKS_DIR,
  JUPYTER_INSTALL_HINT,
  LEGIBLE_CSS,
  listNotebooks,
  findNotebook,
  notebookErrors,
  localKernelEnv,
  tslabBin,
  jupyterCommand,
  jupyterPython,
  executeNotebook,
  numberExecutedCells,
  stampRunTime,
  cellTimes,
  exportNotebookHtml,
  selfContainedHtml,
} from "./notebooks";
export type { NbOutput, NbCell, NotebookJson, ExecutedNotebook, ExecuteOptions, CellTime } from "./notebooks";
export { CHROMIUM_FLAGS, chromiumPath, renderPage, type RenderedPage } from "./browser";
export { CHECKOUT_TSLAB, startNotebookServer, procStat, resolveKernelArgv0, type NotebookServer, type NotebookServerOptions } from "./jupyter-server";
export * from "./times";
