"""The moments other than ordering the procedure, one module each.

* `patient_view`: a chart is opened (`cementoplasty-patient-view`).
* `appointment_book`: the procedure's appointment is booked (`cementoplasty-appointment-book`).
* `medication_order`: an antithrombotic is ordered (answered by `cementoplasty-order-select` /
  `-order-sign`, see service/cementoplasty.py).
* `planned`: what the first two share: the rules and cards run against planned procedures.
"""
