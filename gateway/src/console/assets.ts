import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * The console's stylesheet and its small progressive-enhancement script, read once at start-up
 * and served from the gateway itself (the CSP allows scripts and styles from 'self' only, nothing
 * inline). The URL carries a content hash, so a browser may cache them for good.
 */
const FILES = {
  'app.css': 'text/css; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'icon.svg': 'image/svg+xml',
} as const;

export type AssetName = keyof typeof FILES;

interface Asset {
  body: string;
  type: string;
  hash: string;
}

const assets = new Map<string, Asset>(
  (Object.keys(FILES) as AssetName[]).map((name) => {
    const body = readFileSync(new URL(`./assets/${name}`, import.meta.url), 'utf8');
    return [name, { body, type: FILES[name], hash: createHash('sha256').update(body).digest('hex').slice(0, 12) }];
  }),
);

export function assetUrl(name: AssetName): string {
  return `/console/assets/${name}?v=${assets.get(name)?.hash ?? ''}`;
}

export function findAsset(name: string): Asset | undefined {
  return assets.get(name);
}
