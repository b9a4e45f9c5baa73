suppressMessages(library(lme4))
cbpp <- read.csv("cbpp.csv")
cbpp$herd <- factor(cbpp$herd); cbpp$period <- factor(cbpp$period)
ctl <- glmerControl(optimizer="nloptwrap", optCtrl=list(xtol_abs=1e-12, ftol_abs=1e-14, xtol_rel=0, ftol_rel=0, maxeval=1e6), tolPwrss=1e-12)
out <- function(m, name) {
  cat(name, "obj", sprintf("%.12f", -2*logLik(m)), "theta", sprintf("%.9f", getME(m,"theta")), "beta", sprintf("%.9f", fixef(m)), "se", sprintf("%.9f", sqrt(diag(vcov(m)))), "\n")
}
m1 <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial, control=ctl); out(m1, "cbpp_laplace")
m9 <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial, nAGQ=9, control=ctl); out(m9, "cbpp_agq9")
mp <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial(link="probit"), control=ctl); out(mp, "cbpp_probit")
mc <- glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial(link="cloglog"), control=ctl); out(mc, "cbpp_cloglog")
gt <- read.csv("grouseticks.csv"); for (v in c("INDEX","BROOD","YEAR","LOCATION")) gt[[v]] <- factor(gt[[v]])
mn <- glmer.nb(TICKS ~ YEAR + cHEIGHT + (1 | LOCATION), gt); out(mn, "gt_nb"); cat("nb_theta", sprintf("%.9f", getME(mn, "glmer.nb.theta")), "\n")
