// The indoor temperature of a building driven by the measured outdoor temperature: a
// forcing input read from `data/outdoor_temperature.csv` (hourly values over two days)
// and interpolated in time by a natural cubic spline. Times are in hours.
model Building {
    param tau: h = 8.0        // thermal time constant of the building
    param heating: K/h = 0.4  // warming rate of the heater

    data weather(t: h, T_out: K) = csv("data/outdoor_temperature.csv")

    state T_in: K = 291.0  // indoor temperature

    let outdoor: K = interp(weather.T_out, t, method: cubic)

    der(T_in) = (outdoor - T_in) / tau + heating

    output T_out: K = outdoor

    domain time: t in [0, 48] h
}
