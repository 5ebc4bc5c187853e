// A bouncing ball: free fall, and at each impact the velocity reverses, scaled by the
// coefficient of restitution. The solver finds each impact by root finding on `h`.
//
// From h0 = 10 m at rest the first impact is at √(2·h0/g) = 1.4278 s; each later flight
// lasts e times the one before (2·e^k·√(2·h0/g)), so the impacts are at known times
// (tests/events.rs checks them to 1e-8).
model BouncingBall {
    const g: m/s^2 = 9.81  // gravitational acceleration
    param e = 0.8          // coefficient of restitution

    state h: m = 10.0   // height above the floor
    state v: m/s = 0.0  // upward velocity

    der(h) = v
    der(v) = -g

    // At the floor the velocity reverses and loses energy.
    when h < 0 { reinit(v, -e * v) }

    output energy: m^2/s^2 = 0.5 * v^2 + g * h  // per unit mass

    domain time: t in [0, 10]
}
