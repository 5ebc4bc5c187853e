// A projectile with quadratic air drag, launched from the ground: the solve stops when it
// lands, so the last row is the point of impact (its range and flight time).
//
// Without drag (`sci run examples/projectile.sci --param c=0`) it lands after
// 2·v0·sin(θ)/g = 7.2078 s at a range of v0²·sin(2θ)/g = 254.84 m (tests/events.rs).
model Projectile {
    const g: m/s^2 = 9.81
    const v0: m/s = 50.0              // launch speed
    const angle = 0.7853981633974483  // 45°, in radians
    param c: 1/m = 0.002              // drag per unit mass: |a_drag| = c·|v|²

    state x: m = 0.0
    state y: m = 0.0
    state vx: m/s = v0 * cos(angle)
    state vy: m/s = v0 * sin(angle)

    let speed = sqrt(vx^2 + vy^2)

    der(x) = vx
    der(y) = vy
    der(vx) = -c * speed * vx
    der(vy) = -g - c * speed * vy

    // Landing: the height falls through zero on the way down.
    when y < 0 { stop }

    domain time: t in [0, 60]
}
