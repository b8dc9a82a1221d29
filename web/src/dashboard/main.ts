// /dashboard: progress, speed, annotators, reviews, the hold-out accuracy after each
// retraining, and Retrain and rebuild.

import { api, type Project } from '../shared/client';
import { addShortcuts } from '../shared/keys';
import { startTool } from '../shared/page';
import { el, fill } from '../shared/util';
import { AssessmentPanel } from './assessment';
import { FinePanel } from './fine';
import { accuracyPlot, type Training } from './plot';
import { RebuildPanel } from './rebuild';
import { latestCalibrated, reliabilityPlot } from './reliability';
import { VersionsPanel } from './versions';
import { annotatorChart, annotators, annotatorTable, cards } from './summary';
import './dashboard.css';

const REFRESH_MS = 30_000;

async function main(): Promise<void> {
  let current: Project | null = null;
  let rebuild: RebuildPanel | null = null;
  let fine: FinePanel | null = null;
  let assessment: AssessmentPanel | null = null;
  let published: VersionsPanel | null = null;
  const { user, nav } = await startTool('dashboard', (project) => {
    current = project;
    rebuild?.setProject(project);
    fine?.setProject(project);
    published?.setProject(project);
    assessment?.setProject(project);
    void assessment?.load();
    void refresh();
    void rebuild?.loadPreview();
  });
  current = nav.project;
  const status = el('p', { id: 'board-status', class: 'status', role: 'status', 'aria-live': 'polite' });
  const figures = el('div', { id: 'figures' });
  const people = el('div', { class: 'people' });
  const plot = el('div', { id: 'accuracy' });
  rebuild = new RebuildPanel(current, ['annotator', 'reviewer', 'admin'].includes(user.role),
    ['reviewer', 'admin'].includes(user.role));
  const panel = rebuild;
  assessment = new AssessmentPanel(current, ['reviewer', 'admin'].includes(user.role));
  const accuracy = assessment;
  published = new VersionsPanel(current, user.role === 'admin');
  const versions = published;
  fine = new FinePanel(current, user.role === 'admin');

  document.body.append(el('main', { id: 'dashboard', class: 'dashboard-page' },
    el('div', { class: 'board-head' }, el('h1', { id: 'board-title' }, 'Dashboard'), status),
    figures,
    el('div', { class: 'board-grid' },
      el('div', { class: 'column' },
        el('section', { class: 'panel', 'aria-labelledby': 'accuracy-title' },
          el('h2', { id: 'accuracy-title' }, 'Hold-out accuracy after each retraining'), plot),
        el('section', { class: 'panel', 'aria-labelledby': 'people-title' }, el('h2', { id: 'people-title' }, 'Annotators'),
          people)),
      el('div', { class: 'column' }, panel.node, accuracy.node, versions.node, fine.node))));

  let asked = 0;
  async function refresh(): Promise<void> {
    const project = current;
    if (!project) return;
    const ask = ++asked;
    try {
      const board = await api.get('/api/projects/{project}/dashboard', { path: { project: project.id } });
      if (ask !== asked) return;
      document.getElementById('board-title')!.textContent = `Dashboard · ${project.name}`;
      fill(figures, cards(board));
      const rows = annotators(board);
      fill(people, annotatorTable(rows), el('div', { class: 'chart-box' }, annotatorChart(rows),
        rows.length ? el('p', { class: 'legend-line' }, el('span', { class: 'swatch masks' }), 'masks labelled ',
          el('span', { class: 'swatch decisions' }), 'decisions') : null));
      fill(plot, accuracyPlot(board.trainings as unknown as Training[]),
        reliabilityPlot(latestCalibrated(board.trainings)));
      status.textContent = `Updated ${new Date().toLocaleTimeString()}`;
      status.dataset.kind = 'info';
    } catch (error) {
      status.textContent = `Could not load the dashboard: ${error instanceof Error ? error.message : String(error)}`;
      status.dataset.kind = 'error';
    }
  }
  panel.onDone = () => { void refresh(); void versions.load(); };

  addShortcuts(
    { keys: ['u'], label: 'Update the figures now', group: 'Dashboard', run: () => void refresh() },
    { keys: ['b'], label: 'Retrain and rebuild (shows the preview first)', group: 'Dashboard',
      run: () => document.getElementById('rebuild')?.click() },
  );
  window.setInterval(() => { if (document.visibilityState === 'visible') void refresh(); }, REFRESH_MS);
  await Promise.all([refresh(), panel.loadPreview(), accuracy.load(), versions.load()]);
  panel.resume();
  document.body.classList.add('dashboard-ready');
}

main().catch(() => undefined);
