// The one comparison both checks use: |got − want| ≤ rtol·|want| + atol per element.
// Answers a list of readable mismatches (empty when the states agree).
export function compareStates(got, want, rtol, atol) {
  if (got.length !== want.length) return [`${got.length} values, expected ${want.length}`];
  const problems = [];
  got.forEach((g, i) => {
    const w = want[i];
    if (!(Math.abs(g - w) <= rtol * Math.abs(w) + atol)) {
      problems.push(`state ${i}: ${g} vs expected ${w} (relative difference ${((g - w) / w).toExponential(2)}, allowed ${rtol} + atol ${atol})`);
    }
  });
  return problems;
}
