export * from './media/index.js';
export * from './ytcommons/index.js';
