// Hint edits as data, no DOM: the hints JSON the API takes, snapshots of the hint lists, and a
// bounded undo/redo history of them (each edit one step). tests/test_browser.py runs these in
// the page; they touch nothing but their arguments.

export const HISTORY_LIMIT = 200;  // undo steps kept

// The hints JSON (tinct.hints.io's schema, the CLI's --hints file): points, strokes, palette, grid.
export function hintsJSON({ hints, strokes = [], palette = [], grid = null }) {
  const doc = { points: hints.map((h) => ({ x: h.x, y: h.y, color: h.color })) };
  if (strokes.length) doc.strokes = strokes.map((s) => ({ points: s.points, color: s.color, width: s.width }));
  const given = palette.filter((c) => c.weight > 0);
  if (given.length) doc.palette = given.map((c) => ({ color: c.color, weight: c.weight }));
  if (grid) doc.grid = grid;
  return JSON.stringify(doc);
}

// A copy of the hint lists that later edits do not change.
export const snapshot = ({ hints, strokes }) => ({ hints: hints.map((h) => ({ ...h })), strokes: strokes.map((t) => ({ ...t })) });

// The history: {past, future}, stacks of snapshots.
export const emptyHistory = () => ({ past: [], future: [] });

// An edit is about to change ``current``: it becomes one undo step, and the redo stack is dropped.
export function recordEdit(history, current) {
  history.past.push(snapshot(current));
  if (history.past.length > HISTORY_LIMIT) history.past.shift();
  history.future = [];
}

// The snapshot to show after undoing (``current`` goes to the redo stack), or null when there is none.
export function undoStep(history, current) {
  if (!history.past.length) return null;
  history.future.push(snapshot(current));
  return history.past.pop();
}

// The snapshot to show after redoing (``current`` goes back to the undo stack), or null when there is none.
export function redoStep(history, current) {
  if (!history.future.length) return null;
  history.past.push(snapshot(current));
  return history.future.pop();
}
