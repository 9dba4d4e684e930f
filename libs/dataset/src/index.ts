export * from './taxonomy.js';
export * from './annotation.js';
export * from './hf-features.js';
export * from './export-schema.js';
export * from './timecodes.js';
