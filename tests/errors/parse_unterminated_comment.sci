model M {
    param a = 1.0
}
/* E0103: this comment never ends
model N {
