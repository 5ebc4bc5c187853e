// A simple pendulum with physical units, checked by dimensional analysis.
//
// Angles are dimensionless in SI (rad), so `sin(theta)` is well defined and
// der(omega) has the unit rad/s² = 1/s².
model Pendulum {
    const g: m/s^2 = 9.81  // gravitational acceleration
    param L: m = 1.0       // length of the rod
    param c: 1/s = 0.1     // damping rate

    state theta: rad = 0.3    // angle from the vertical
    state omega: rad/s = 0.0  // angular velocity

    der(theta) = omega
    der(omega) = -(g / L) * sin(theta) - c * omega

    // Height of the bob above its lowest point.
    output height: m = L * (1 - cos(theta))
    // Energy per unit mass.
    output energy: m^2/s^2 = 0.5 * (L * omega)^2 + g * height

    domain time: t in [0, 10]  // the span `sci run` integrates over
}
