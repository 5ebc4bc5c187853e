// E0101: a character that is not part of the language is reported and skipped.
model M {
    param a = 1.0 $ 2
    param b = 'x'
}
