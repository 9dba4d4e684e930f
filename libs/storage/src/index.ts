export * from './keys.js';
export * from './file-store.js';
export * from './s3-store.js';
export * from './open.js';
export * from './jsonl.js';
export * from './parquet.js';
