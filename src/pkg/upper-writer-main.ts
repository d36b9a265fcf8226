// upper-writer-main.js UPPER < items.json: writeItems run by upper-writer.ts inside a user
// namespace with the env's id mapping, where the upper dir's subordinate-id files are root's.
import { readFileSync } from 'node:fs';
import type { UpperItem } from './upper-items.js';
import { writeItems } from './upper-writer.js';

const upper = process.argv[2];
if (!upper) throw new Error('usage: upper-writer-main.js UPPER < items.json');
const items = JSON.parse(readFileSync(0, 'utf8')) as UpperItem[];
process.stdout.write(JSON.stringify(writeItems(upper, items)));
