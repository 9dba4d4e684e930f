export * from './source.js';
export * from './server.js';
export * from './run-index.js';
export * from './media.js';
export * from './artifacts.js';
export { webAssets, buildWebAssets, type WebAssets } from './build-web.js';
export * from './headline.js';
export * from './backend.js';
export * from './dataset.js';
