// MCAE comparison viewer: one city, two layers (imagery, MCAE, SinoLC-1, agreement ...), three
// ways to compare them, legends with class filters, identify, class areas, agreement, downloads.
// Everything comes from the platform API; the whole view lives in the URL hash.

import './style.css';
import { App } from './app';

void new App().start();
