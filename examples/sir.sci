// An epidemic (the SIR model of Kermack and McKendrick) counted in days: the time span
// declares the model's time unit, so rates are per day and `der(S)` is checked in 1/day.
//
// S, I and R are the fractions of the population that are susceptible, infectious and
// recovered; the basic reproduction number is beta/gamma = 3.
model SIR {
    param beta: 1/day = 0.3   // infection rate
    param gamma: 1/day = 0.1  // recovery rate

    state S = 0.99
    state I = 0.01
    state R = 0.0

    der(S) = -beta * S * I
    der(I) = beta * S * I - gamma * I
    der(R) = gamma * I

    output recovered_per_day: 1/day = gamma * I

    domain time: t in [0, 160] day
}
