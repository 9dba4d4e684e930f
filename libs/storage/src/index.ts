export * from './keys.js';
export * from './file-store.js';
// The S3 store proper (and the AWS SDK it loads) is imported from '@finevideo/storage/s3' or on first use.
export * from './lazy-s3-store.js';
export * from './open.js';
export * from './jsonl.js';
export * from './parquet.js';
export * from './s3-settings.js';
