// A tool page that is not built yet: the shared top bar and a note (<body data-page="...">).

import type { ToolPage } from './nav';
import { startTool } from './page';
import { el } from './util';

const page = (document.body.dataset.page ?? 'annotate') as ToolPage;
startTool(page, () => window.location.reload()).then(() => {
  document.body.append(el('main', { class: 'coming' }, el('h1', {}, document.title),
    el('p', {}, 'This tool is coming. The other tools are in the top bar.')));
}).catch(() => undefined);
