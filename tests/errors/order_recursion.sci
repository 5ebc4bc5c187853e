// Functions cannot call themselves, directly or through others.
fn even(n) = if n == 0 then 1 else odd(n - 1)
fn odd(n) = if n == 0 then 0 else even(n - 1)
