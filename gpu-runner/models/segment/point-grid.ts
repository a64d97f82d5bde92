/**
 * Point grids that prompt SAM's automatic mask generation.
 */

/** Point in upright image pixels. */
export type GridPoint = readonly [number, number]

/**
 * Picks the columns and rows of a grid with about `pointsPerSide`² points and equal spacing
 * along both axes, so a wide strip gets more columns than rows. A square image gets
 * `pointsPerSide` × `pointsPerSide`, as in the reference generator, which always uses a square
 * grid of normalised coordinates.
 */
export function computeGridShape(
  width: number,
  height: number,
  pointsPerSide: number
): { columns: number; rows: number } {
  if (!Number.isInteger(pointsPerSide) || pointsPerSide < 1) {
    throw new RangeError(`pointsPerSide must be a positive integer, got ${pointsPerSide}.`)
  }

  const aspect = width / height
  return {
    columns: Math.max(1, Math.round(pointsPerSide * Math.sqrt(aspect))),
    rows: Math.max(1, Math.round(pointsPerSide / Math.sqrt(aspect))),
  }
}

/**
 * Builds a grid of cell centres over the image, row by row: point (i, j) sits at
 * `((i + 0.5) / columns × width, (j + 0.5) / rows × height)`, the spacing of `build_point_grid`
 * in segment-anything `segment_anything/utils/amg.py`.
 */
export function buildPointGrid(width: number, height: number, pointsPerSide: number): GridPoint[] {
  const { columns, rows } = computeGridShape(width, height, pointsPerSide)
  const points: GridPoint[] = []
  for (let j = 0; j < rows; j++) {
    for (let i = 0; i < columns; i++) {
      points.push([((i + 0.5) / columns) * width, ((j + 0.5) / rows) * height])
    }
  }
  return points
}
