import fs from 'node:fs';
import path from 'node:path';
import { renderConnectorDocs } from '../api/connector-docs';

// `npm run docs`: regenerates docs/connectors.md from the declarations.
const file = path.resolve(__dirname, '..', '..', 'docs', 'connectors.md');
fs.writeFileSync(file, renderConnectorDocs());
console.log(`wrote ${file}`);
