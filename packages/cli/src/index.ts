export { buildProgram, main } from './main';
export { resolveSettings, environmentLayer, fileLayer, type Settings, type Layer } from './settings';
export { render, type Result } from './output';
export { findFlow, traceFiles, type TraceStep } from './trace';
export { scopesFor } from './runtime';
